// The markdown report rendered: marked (GFM tables) to HTML, sanitised by DOMPurify before it is
// shown. Lazy-loaded (React.lazy) so neither library weighs on the initial bundle.
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo } from "react";

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"], FORBID_ATTR: ["style"] });
}

export default function MarkdownView({ text, testId }: { text: string; testId?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className="markdown max-h-[40rem] overflow-auto rounded-md border border-line bg-panel p-4 text-sm" data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />;
}
