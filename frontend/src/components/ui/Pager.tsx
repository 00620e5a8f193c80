import { Button } from "./Button";
import { cn } from "./cn";

/** "Previous · 21–40 of 95 · Next" over a list shown `pageSize` at a time; nothing when one page holds it. */
export function Pager({
  page,
  pageSize,
  total,
  onPage,
  label,
  className,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (page: number) => void;
  label: string;
  className?: string;
}) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className={cn("flex items-center gap-2", className)} aria-label={label}>
      <Button size="sm" onClick={() => onPage(page - 1)} disabled={page === 0}>
        Previous
      </Button>
      <span className="num text-muted">
        {page * pageSize + 1}–{Math.min(total, page * pageSize + pageSize)} of {total}
      </span>
      <Button size="sm" onClick={() => onPage(page + 1)} disabled={page >= pages - 1}>
        Next
      </Button>
    </nav>
  );
}
