import { describe, expect, it } from "vitest";

import { renderMarkdown } from "./MarkdownView";

describe("renderMarkdown", () => {
  it("renders headings, tables and code", () => {
    const html = renderMarkdown("# Report\n\n| config | score |\n| --- | --- |\n| m2 | 1.000 |\n\n`LLM_MODEL=m2`");
    expect(html).toContain("<h1>Report</h1>");
    expect(html).toMatch(/<table>[\s\S]*<td>m2<\/td>/);
    expect(html).toContain("<code>LLM_MODEL=m2</code>");
  });

  it("drops scripts, event handlers and javascript: links from a prompt or an output quoted in the report", () => {
    const html = renderMarkdown('<script>alert(1)</script><img src=x onerror="alert(2)">\n\nSee [x](javascript:alert(3)) and <b style="color:red">b</b>');
    expect(html).not.toMatch(/<script|onerror|javascript:|style=/i);
    expect(html).toContain("<a>x</a>");
    expect(html).toContain("<b>b</b>");
  });
});
