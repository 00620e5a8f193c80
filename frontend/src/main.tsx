import "./index.css";

import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router-dom";

import { createQueryClient } from "./api/queryClient";
import { createAppRouter } from "./App";

const router = createAppRouter();

// 401 anywhere → log in again, then come back to where the user was.
const queryClient = createQueryClient(() => {
  const { pathname, search } = window.location;
  if (pathname.startsWith("/login") || pathname.startsWith("/setup")) return;
  void router.navigate(`/login?next=${encodeURIComponent(pathname + search)}`, { replace: true });
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
