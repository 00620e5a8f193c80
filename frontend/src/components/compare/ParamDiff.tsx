import { useMemo, useState } from "react";

import { configDiff, displayValue, wordDiff } from "../../lib/diff";
import { Button } from "../ui/Button";
import { Card, CardBody, CardHeader } from "../ui/Card";
import { DiffText } from "./DiffText";

const LONG = 60;

/** Every config path of the two runs; the ones that differ first, marked and (for long text) word-diffed. */
export function ParamDiff({ a, b, endpointLabels }: { a: unknown; b: unknown; endpointLabels: Map<string, string> }) {
  const rows = useMemo(() => configDiff(a, b), [a, b]);
  const [showSame, setShowSame] = useState(false);
  const changed = rows.filter((r) => r.changed);
  const same = rows.length - changed.length;
  const shown = showSame ? rows : changed;
  const label = (path: string, value: unknown) =>
    path.endsWith("endpoint_id") && typeof value === "string" ? (endpointLabels.get(value) ?? value) : displayValue(value);

  return (
    <Card data-testid="compare-params">
      <CardHeader
        title="Parameters"
        description={
          changed.length === 0
            ? "Both runs used exactly the same configuration."
            : `${changed.length} parameter${changed.length === 1 ? "" : "s"} differ; ${same} are the same.`
        }
        actions={
          same > 0 ? (
            <Button size="sm" variant="ghost" onClick={() => setShowSame(!showSame)} aria-pressed={showSame} data-testid="compare-params-toggle">
              {showSame ? "Hide unchanged" : `Show ${same} unchanged`}
            </Button>
          ) : undefined
        }
      />
      <CardBody className="overflow-x-auto p-0">
        <table className="w-full table-fixed text-sm">
          <thead>
            <tr className="border-b border-line text-left text-xs text-muted">
              <th className="w-1/4 px-4 py-2 font-medium">Parameter</th>
              <th className="px-2 py-2 font-medium">A</th>
              <th className="px-4 py-2 font-medium">B</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((row) => {
              const textA = label(row.path, row.a);
              const textB = label(row.path, row.b);
              const long = row.changed && typeof row.a === "string" && typeof row.b === "string" && (textA.length > LONG || textB.length > LONG || /\n/.test(textA + textB));
              const parts = long ? wordDiff(textA, textB).parts : null;
              return (
                <tr
                  key={row.path}
                  className={`border-b border-line align-top ${row.changed ? "bg-warn/10" : ""}`}
                  data-testid={row.changed ? "param-changed" : "param-same"}
                  data-path={row.path}
                >
                  <th scope="row" className="px-4 py-2 text-left font-mono text-xs font-normal break-all">
                    {row.changed && (
                      <span className="mr-1 font-bold text-warn" aria-label="differs" title="differs">
                        ≠
                      </span>
                    )}
                    {row.path}
                  </th>
                  <td className="px-2 py-2 font-mono text-xs break-words">
                    {parts ? <DiffText parts={parts} side="a" /> : <span className={row.changed ? "font-semibold" : ""}>{textA}</span>}
                  </td>
                  <td className="px-4 py-2 font-mono text-xs break-words">
                    {parts ? <DiffText parts={parts} side="b" /> : <span className={row.changed ? "font-semibold" : ""}>{textB}</span>}
                  </td>
                </tr>
              );
            })}
            {shown.length === 0 && (
              <tr>
                <td colSpan={3} className="px-4 py-3 text-muted">
                  No difference.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </CardBody>
    </Card>
  );
}
