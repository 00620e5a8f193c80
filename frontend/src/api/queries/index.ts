// Convenience re-exports; each resource keeps its own file.
export * from "./keys";
export * from "./auth";
export * from "./health";
export * from "./projects";
export * from "./experiments";
export * from "./runs";
export * from "./leaderboard";
export * from "./endpoints";
export * from "./scorers";
export * from "./admin";
export * from "./sweeps";
export * from "./exports";
export * from "./events";
export * from "./webhooks";
export * from "./proposals";
