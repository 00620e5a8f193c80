import { useJudgeAgreement } from "../../api/queries/scorers";
import { judgeVerdict } from "../../lib/stats";
import { Card, CardBody, CardHeader, cn, ErrorMessage } from "../ui";

/** How each LLM judge agrees with people's ratings; a warning when one disagrees (kappa < 0.4, 10+ pairs). */
export function JudgeCalibration({ experimentId }: { experimentId: string }) {
  const query = useJudgeAgreement(experimentId);
  if (query.isError) return <ErrorMessage error={query.error} title="Could not load judge agreement" />;
  const judges = query.data?.judges ?? [];
  if (judges.length === 0) return null;
  return (
    <Card data-testid="judge-calibration">
      <CardHeader title="Judge calibration" description="Each LLM judge against people's ratings of the same outputs (both on the 1-5 scale)." />
      <CardBody className="space-y-3">
        {judges.map((judge) => (
          <div
            key={judge.name}
            data-testid={judge.warning ? "judge-warning" : "judge-ok"}
            role={judge.warning ? "alert" : undefined}
            className={cn("rounded-md border px-3 py-2 text-sm", judge.warning ? "border-warn/50 bg-warn/10" : "border-line")}
          >
            <p className="font-medium">
              {judge.warning && <span aria-hidden="true">⚠ </span>}
              {judge.name}
            </p>
            <p className="text-muted">{judgeVerdict(judge)}</p>
            <p className="num text-xs text-muted">
              kappa {judge.kappa == null ? "—" : judge.kappa.toFixed(2)} · bias {judge.bias == null ? "—" : judge.bias.toFixed(3)} · pairs {judge.pairs} ·
              Spearman (run means) {judge.spearman == null ? "—" : judge.spearman.toFixed(2)}
            </p>
          </div>
        ))}
      </CardBody>
    </Card>
  );
}
