"""The baseline: the smallest FastAPI endpoint, served the same way as Context IQ."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
