import { useEffect, useState } from "react";
import { api } from "./api/client";
import { ApiDownBanner } from "./components/ApiDownBanner";
import { ApiKeySettings } from "./components/ApiKeySettings";
import { HealthBadges } from "./components/HealthBadges";
import { ViewBoundary } from "./components/ViewBoundary";
import { useHashRoute, type Route } from "./hooks/useHashRoute";
import { useHealth } from "./hooks/useHealth";
import { useResource } from "./hooks/useResource";
import { CatalogView } from "./views/CatalogView";
import { ExperimentsView } from "./views/ExperimentsView";
import { ModelView } from "./views/ModelView";
import { RecommendationsView } from "./views/RecommendationsView";
import { RulesView } from "./views/RulesView";

const NAV: { route: Route; label: string }[] = [
  { route: "recommendations", label: "Recommendations" },
  { route: "catalog", label: "Catalog" },
  { route: "model", label: "Model" },
  { route: "experiments", label: "Experiments" },
  { route: "rules", label: "Rules" },
];

export function App() {
  const route = useHashRoute();
  const health = useHealth();
  const apiDown = health.error !== null;
  // Categories feed two views; reload them when the API comes back after an outage.
  const categories = useResource(apiDown ? null : "categories", (signal) => api.categories(signal));
  // Model families a list may be asked of besides the serving one (an "up next" shelf, say),
  // read again each time the recommendations view opens: one trained meanwhile shows without a
  // page reload, and the Model view, which reads the same status itself, adds no second read.
  const [opened, setOpened] = useState({ route, count: 0 });
  if (opened.route !== route) {
    setOpened({ route, count: opened.count + (route === "recommendations" ? 1 : 0) });
  }
  const models = useResource(apiDown ? null : `models|${opened.count}`, (signal) =>
    api.models(signal),
  );
  const active = models.data?.active?.family;
  const families = Object.keys(models.data?.families ?? {})
    .filter((name) => name !== active)
    .sort();

  // Views mount on first visit and then stay mounted, so switching tabs keeps their state.
  const [visited, setVisited] = useState<Set<Route>>(() => new Set([route]));
  if (!visited.has(route)) setVisited(new Set([...visited, route]));

  useEffect(() => {
    performance.mark("contextiq:app-rendered");
  }, []);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <a className="brand" href="#/recommendations" aria-label="Context IQ home">
            <span className="brand__mark" aria-hidden="true">
              IQ
            </span>
            <span className="brand__name">Context IQ</span>
          </a>
          <nav className="nav" aria-label="Views">
            {NAV.map((item) => (
              <a
                key={item.route}
                href={`#/${item.route}`}
                className="nav__link"
                aria-current={route === item.route ? "page" : undefined}
              >
                {item.label}
              </a>
            ))}
          </nav>
          <HealthBadges health={health.health} stale={apiDown} />
        </div>
      </header>
      {apiDown ? <ApiDownBanner message={health.error!.message} onRetry={health.refresh} /> : null}
      <main id="main" className="main" tabIndex={-1}>
        {visited.has("recommendations") ? (
          <div hidden={route !== "recommendations"}>
            <ViewBoundary view="Recommendations">
              <RecommendationsView
                categories={categories.data?.categories ?? []}
                families={families}
              />
            </ViewBoundary>
          </div>
        ) : null}
        {visited.has("catalog") ? (
          <div hidden={route !== "catalog"}>
            <ViewBoundary view="Catalog">
              <CatalogView categories={categories.data?.categories ?? []} />
            </ViewBoundary>
          </div>
        ) : null}
        {visited.has("model") ? (
          <div hidden={route !== "model"}>
            <ViewBoundary view="Model">
              <ModelView active={route === "model"} />
            </ViewBoundary>
          </div>
        ) : null}
        {visited.has("experiments") ? (
          <div hidden={route !== "experiments"}>
            <ViewBoundary view="Experiments">
              <ExperimentsView active={route === "experiments"} />
            </ViewBoundary>
          </div>
        ) : null}
        {visited.has("rules") ? (
          <div hidden={route !== "rules"}>
            <ViewBoundary view="Rules">
              <RulesView active={route === "rules"} />
            </ViewBoundary>
          </div>
        ) : null}
      </main>
      <footer className="footer">
        <span>
          Context IQ{health.health ? ` ${health.health.version}` : ""} · explainable recommendations
        </span>
        <ApiKeySettings />
      </footer>
    </div>
  );
}
