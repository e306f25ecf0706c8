/** Same rule as the API's identifiers, so a typo is caught before a round trip. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;
export const USER_ID_RULE = "Use letters, digits and _ . : @ - (up to 128 characters).";
