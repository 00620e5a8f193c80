import { lazy, Suspense, useState } from "react";

import { isApiError } from "../../api/errors";
import { EXPORT_FORMATS, fetchExport, useExport } from "../../api/queries/exports";
import type { ExportKind } from "../../api/queries/keys";
import { useSweepScope } from "../../lib/sweepScope";
import { Button, Card, CardHeader, CopyButton, downloadText, EmptyState, ErrorMessage, Skeleton, Tabs } from "../ui";

const MarkdownView = lazy(() => import("./MarkdownView"));

const KINDS: ExportKind[] = ["best", "yaml", "env", "report"];
const DESCRIPTIONS: Record<ExportKind, string> = {
  best: "The best run as JSON: model, endpoint, parameters, prompts and score.",
  yaml: "The best configuration in the spec's YAML layout.",
  env: "LLM_MODEL=, LLM_API_URL=, LLM_TEMPERATURE= ... ready for a .env file.",
  report: "A markdown report of the experiment and its best runs.",
};

/** Copy or download the best configuration as JSON, YAML, .env, or the markdown report. */
export function ExportsPanel({ experimentId, experimentName }: { experimentId: string; experimentName: string }) {
  const [kind, setKind] = useState<ExportKind>("best");
  const [reportSource, setReportSource] = useState(false);
  const sweepId = useSweepScope();
  const preview = useExport(experimentId, kind, { sweepId });
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const format = EXPORT_FORMATS[kind];
  const nothingYet = isApiError(preview.error, 404) && preview.error.code === "no_completed_runs";
  const base = experimentName.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "") || "experiment";

  const download = async (which: ExportKind) => {
    setDownloadError(null);
    try {
      const text = await fetchExport(experimentId, which, undefined, sweepId);
      downloadText(`${base}-${EXPORT_FORMATS[which].filename}`, text, EXPORT_FORMATS[which].mime);
    } catch (error) {
      setDownloadError(error);
    }
  };

  return (
    <Card data-testid="exports">
      <CardHeader
        title="Export the best configuration"
        description="Take the winning setup into your application."
        actions={
          <div className="flex flex-wrap gap-2">
            {KINDS.map((k) => (
              <Button key={k} size="sm" onClick={() => void download(k)} data-testid={`export-download-${k}`}>
                Download {EXPORT_FORMATS[k].label}
              </Button>
            ))}
          </div>
        }
      />
      <div className="px-4">
        <Tabs
          label="Export format"
          value={kind}
          onChange={setKind}
          tabs={KINDS.map((k) => ({ id: k, label: EXPORT_FORMATS[k].label, testId: `export-tab-${k}` }))}
        />
      </div>
      <div className="p-4" role="tabpanel" aria-label={`${format.label} export`}>
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          <p className="text-sm text-muted">{DESCRIPTIONS[kind]}</p>
          <div className="flex gap-2">
            <CopyButton
              text={() => (preview.data !== undefined ? preview.data : fetchExport(experimentId, kind, undefined, sweepId))}
              label={`Copy ${format.label}`}
              disabled={nothingYet}
              data-testid={`export-copy-${kind}`}
            />
            <Button size="sm" onClick={() => void download(kind)} disabled={nothingYet} data-testid={`export-download-current`}>
              Download {format.filename}
            </Button>
          </div>
        </div>
        <ErrorMessage error={downloadError} className="mb-3" />
        {preview.isPending ? (
          <div className="space-y-2">
            <Skeleton />
            <Skeleton className="w-2/3" />
            <Skeleton className="w-1/2" />
          </div>
        ) : nothingYet ? (
          <EmptyState title="Nothing to export yet" description="Exports need at least one completed, scored run: start a sweep and come back when a run has finished." />
        ) : preview.isError ? (
          <ErrorMessage error={preview.error} onRetry={() => void preview.refetch()} />
        ) : kind === "report" && !reportSource && preview.data !== undefined ? (
          <>
            <Button size="sm" variant="ghost" className="mb-2" onClick={() => setReportSource(true)} data-testid="report-show-source">
              Show the markdown source
            </Button>
            <Suspense fallback={<Skeleton className="h-40" />}>
              <MarkdownView text={preview.data} testId="export-rendered-report" />
            </Suspense>
          </>
        ) : (
          <>
          {kind === "report" && (
            <Button size="sm" variant="ghost" className="mb-2" onClick={() => setReportSource(false)} data-testid="report-show-rendered">
              Show the rendered report
            </Button>
          )}
          <pre
            className="max-h-[28rem] overflow-auto rounded-md border border-line bg-raised p-3 font-mono text-xs leading-relaxed whitespace-pre-wrap break-words"
            data-testid={`export-preview-${kind}`}
            tabIndex={0}
            aria-label={`${format.label} export preview`}
          >
            {preview.data}
          </pre>
          </>
        )}
      </div>
    </Card>
  );
}
