// Which sweep of an experiment the Live, Runs, Charts and Exports views show: one sweep's id, or
// undefined for every sweep. The experiment page picks it (latest by default) and provides it here.
import { createContext, useContext, type ReactNode } from "react";

const SweepContext = createContext<string | undefined>(undefined);

export function SweepScope({ sweepId, children }: { sweepId: string | undefined; children: ReactNode }) {
  return <SweepContext.Provider value={sweepId}>{children}</SweepContext.Provider>;
}

/** The selected sweep's id, or undefined for "all sweeps". */
export function useSweepScope(): string | undefined {
  return useContext(SweepContext);
}
