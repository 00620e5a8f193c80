import { useId, useRef, type KeyboardEvent, type ReactNode } from "react";

import { cn } from "./cn";

export interface TabItem<K extends string = string> {
  id: K;
  label: ReactNode;
  testId?: string;
}

/**
 * An accessible tab list (arrow keys, Home/End); the caller renders the panel for `value` inside
 * <TabPanel>. Controlled, so the active tab can live in the URL.
 */
export function Tabs<K extends string>({
  tabs,
  value,
  onChange,
  label,
  className,
  id,
}: {
  tabs: TabItem<K>[];
  value: K;
  onChange: (id: K) => void;
  label: string;
  className?: string;
  /** Ties the tabs to their <TabPanel tabsId=…> (aria-controls / aria-labelledby). */
  id?: string;
}) {
  const generated = useId();
  const baseId = id ?? generated;
  const refs = useRef<(HTMLButtonElement | null)[]>([]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const index = tabs.findIndex((t) => t.id === value);
    let next = -1;
    if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
    else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = tabs.length - 1;
    if (next >= 0) {
      event.preventDefault();
      onChange(tabs[next]!.id);
      refs.current[next]?.focus();
    }
  };

  return (
    <div role="tablist" aria-label={label} onKeyDown={onKeyDown} className={cn("flex gap-1 overflow-x-auto border-b border-line", className)}>
      {tabs.map((tab, i) => {
        const selected = tab.id === value;
        return (
          <button
            key={tab.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={tabId(baseId, tab.id)}
            aria-selected={selected}
            aria-controls={panelId(baseId, tab.id)}
            tabIndex={selected ? 0 : -1}
            data-testid={tab.testId ?? `tab-${tab.id}`}
            onClick={() => onChange(tab.id)}
            className={cn(
              "-mb-px whitespace-nowrap border-b-2 px-3 py-2 text-sm font-medium",
              selected ? "border-accent text-fg" : "border-transparent text-muted hover:text-fg",
            )}
          >
            {tab.label}
          </button>
        );
      })}
    </div>
  );
}

/** The panel of the active tab `value`, labelled by its tab (`tabsId` is the `id` given to <Tabs>). */
export function TabPanel({
  children,
  className,
  tabsId,
  value,
}: {
  children: ReactNode;
  className?: string;
  tabsId: string;
  value: string;
}) {
  return (
    <div
      role="tabpanel"
      id={panelId(tabsId, value)}
      aria-labelledby={tabId(tabsId, value)}
      tabIndex={-1}
      className={cn("pt-4 focus:outline-none", className)}
    >
      {children}
    </div>
  );
}

function tabId(base: string, id: string) {
  return `${base}-tab-${id}`;
}
function panelId(base: string, id: string) {
  return `${base}-panel-${id}`;
}
