import { lazy } from "react";
import { createBrowserRouter, type RouteObject } from "react-router-dom";

import { AppLayout, AuthLayout } from "./components/layout/AppLayout";
import { RequireAuth } from "./components/layout/RequireAuth";
import { RouteError } from "./components/layout/RouteError";

// Every page is its own chunk: the initial bundle holds the shell, the router and the API client;
// charts (echarts) and the builder load only when their page opens.
const Setup = lazy(() => import("./pages/Setup"));
const Login = lazy(() => import("./pages/Login"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const Projects = lazy(() => import("./pages/Projects"));
const ProjectDetail = lazy(() => import("./pages/ProjectDetail"));
const Experiment = lazy(() => import("./pages/Experiment"));
const Builder = lazy(() => import("./pages/Builder"));
const Compare = lazy(() => import("./pages/Compare"));
const RunDetail = lazy(() => import("./pages/RunDetail"));
const Admin = lazy(() => import("./pages/Admin"));
const NotFound = lazy(() => import("./pages/NotFound"));

export const routes: RouteObject[] = [
  {
    errorElement: <RouteError />,
    children: [
      {
        element: <AuthLayout />,
        children: [
          { path: "/setup", element: <Setup /> },
          { path: "/login", element: <Login /> },
        ],
      },
      {
        element: <RequireAuth />,
        children: [
          {
            element: <AppLayout />,
            children: [
              { path: "/", element: <Dashboard /> },
              { path: "/projects", element: <Projects /> },
              { path: "/projects/:projectId", element: <ProjectDetail /> },
              { path: "/projects/:projectId/experiments/new", element: <Builder /> },
              { path: "/experiments/:experimentId", element: <Experiment /> },
              { path: "/experiments/:experimentId/edit", element: <Builder /> },
              { path: "/runs/:runId", element: <RunDetail /> },
              { path: "/compare", element: <Compare /> },
              { path: "/admin", element: <Admin /> },
              { path: "*", element: <NotFound /> },
            ],
          },
        ],
      },
    ],
  },
];

export function createAppRouter() {
  return createBrowserRouter(routes);
}
