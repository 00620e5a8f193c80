/**
 * Jinja2 prompt templates, read the way the backend reads them (backend/engine/templates.py and
 * definition.py `_name_problem`): find the `{{ ... }}` / `{% ... %}` tags, the names each one reads
 * (`input`, `vars.topic`, `stages.extract.output`, ...) and say which names are not defined.
 */

export type SegmentKind = "text" | "expr" | "stmt" | "comment";

export interface NameRef {
  /** The name as the backend reports it: a root name, `vars.<x>` or `stages.<name>[.<key>]`. */
  name: string;
  /** Offsets into the whole template text. */
  start: number;
  end: number;
}

export interface Segment {
  kind: SegmentKind;
  text: string;
  start: number;
  end: number;
  /** Names this tag reads from outside the template (empty for text and comments). */
  refs: NameRef[];
}

export interface TemplateIssue {
  /** The offending name, or null for a syntax problem. */
  name: string | null;
  message: string;
  start: number;
  end: number;
}

/** What a stage's template may read. */
export interface TemplateScope {
  /** 0 for the first stage: `previous` is only defined from the second stage on. */
  stageIndex: number;
  /** Names of the stages before this one (readable as `stages.<name>.output`). */
  earlierStages: string[];
  /** Variables every sample defines, plus the ones swept as `vars.<name>`. */
  vars: string[];
}

/** Names the sandbox defines globally (jinja2.sandbox.SandboxedEnvironment().globals). */
export const GLOBAL_NAMES = ["range", "dict", "lipsum", "cycler", "joiner", "namespace"] as const;

const KEYWORDS = new Set([
  "and", "or", "not", "in", "is", "if", "else", "elif", "true", "false", "none", "True", "False", "None",
  "recursive", "with", "without", "context", "ignore", "missing", "as", "import", "from",
]);
const PATH_DEPTH: Record<string, number> = { vars: 1, stages: 2 };
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s*/y;

/** Split a template into text, `{{ }}` expressions, `{% %}` statements and `{# #}` comments. */
export function splitTemplate(text: string): { segments: Segment[]; issues: TemplateIssue[] } {
  const segments: Segment[] = [];
  const issues: TemplateIssue[] = [];
  const opener = /\{\{|\{%|\{#/g;
  let pos = 0;
  let raw = false;
  while (pos < text.length) {
    opener.lastIndex = pos;
    const match = opener.exec(text);
    if (!match) break;
    const start = match.index;
    const closer = match[0] === "{{" ? "}}" : match[0] === "{%" ? "%}" : "#}";
    const close = text.indexOf(closer, start + 2);
    if (raw) {
      // inside {% raw %}: only {% endraw %} ends it
      if (match[0] === "{%" && close >= 0 && /^\{%-?\s*endraw\s*-?%\}$/.test(text.slice(start, close + 2))) {
        raw = false;
        if (start > pos) segments.push(textSegment(text, pos, start));
        segments.push({ kind: "stmt", text: text.slice(start, close + 2), start, end: close + 2, refs: [] });
        pos = close + 2;
      } else {
        if (start + 2 > pos) segments.push(textSegment(text, pos, start + 2));
        pos = start + 2;
      }
      continue;
    }
    if (start > pos) segments.push(textSegment(text, pos, start));
    if (close < 0) {
      issues.push({
        name: null,
        message: `\`${match[0]}\` opened here is never closed with \`${closer}\`.`,
        start,
        end: text.length,
      });
      segments.push(textSegment(text, start, text.length));
      pos = text.length;
      break;
    }
    const end = close + 2;
    const kind: SegmentKind = match[0] === "{{" ? "expr" : match[0] === "{%" ? "stmt" : "comment";
    segments.push({ kind, text: text.slice(start, end), start, end, refs: [] });
    if (kind === "stmt" && /^\{%-?\s*raw\s*-?%\}$/.test(text.slice(start, end))) raw = true;
    pos = end;
  }
  if (pos < text.length) segments.push(textSegment(text, pos, text.length));
  return { segments: mergeText(segments), issues };
}

function textSegment(text: string, start: number, end: number): Segment {
  return { kind: "text", text: text.slice(start, end), start, end, refs: [] };
}

function mergeText(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const segment of segments) {
    const last = out[out.length - 1];
    if (last && last.kind === "text" && segment.kind === "text" && last.end === segment.start) {
      out[out.length - 1] = { ...last, text: last.text + segment.text, end: segment.end };
    } else {
      out.push(segment);
    }
  }
  return out;
}

interface Scan {
  refs: NameRef[];
  /** Names this tag declares (for targets, set, with, macro arguments). */
  declares: string[];
}

/** The names read by one expression (`offset` = where `source` starts in the template). */
export function scanExpression(source: string, offset = 0): NameRef[] {
  const refs: NameRef[] = [];
  let i = 0;
  let depth = 0; // () [] {} nesting, for keyword arguments
  let previousToken = "";
  while (i < source.length) {
    const ch = source[i];
    if (ch === '"' || ch === "'") {
      i = skipString(source, i);
      previousToken = "str";
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(ch)) {
      while (i < source.length && /[0-9._eE]/.test(source[i])) i++;
      previousToken = "num";
      continue;
    }
    IDENT.lastIndex = i;
    const ident = IDENT.exec(source);
    if (ident) {
      const word = ident[0];
      const start = i;
      i += word.length;
      const attribute = previousToken === ".";
      const filterOrTest = previousToken === "|" || previousToken === "is" || previousToken === "is not";
      if (KEYWORDS.has(word)) {
        previousToken = previousToken === "is" && word === "not" ? "is not" : word;
        continue;
      }
      previousToken = "ident";
      if (attribute || filterOrTest) continue;
      SPACE.lastIndex = i;
      SPACE.exec(source);
      const after = SPACE.lastIndex;
      if (depth > 0 && source[after] === "=" && source[after + 1] !== "=") continue; // keyword argument
      const chain = readChain(source, start, word);
      i = chain.end;
      refs.push({ name: reduce(chain.path, chain.called), start: offset + start, end: offset + chain.pathEnd });
      continue;
    }
    if ("([{".includes(ch)) depth++;
    if (")]}".includes(ch)) depth = Math.max(0, depth - 1);
    previousToken = ch;
    i++;
  }
  return refs;
}

function skipString(source: string, start: number): number {
  const quote = source[start];
  let i = start + 1;
  while (i < source.length && source[i] !== quote) i += source[i] === "\\" ? 2 : 1;
  return i + 1;
}

interface Chain {
  path: string[];
  /** Where the name's path ends (used for highlighting). */
  pathEnd: number;
  /** Where scanning continues. */
  end: number;
  /** The last path element is called as a method: `vars.x.upper()`. */
  called: boolean;
}

/** `a.b["c"][0]` as ["a", "b", "c", "0"], stopping at a non-constant subscript. */
function readChain(source: string, start: number, root: string): Chain {
  const path = [root];
  let i = start + root.length;
  let pathEnd = i;
  for (;;) {
    SPACE.lastIndex = i;
    SPACE.exec(source);
    const j = SPACE.lastIndex;
    if (source[j] === ".") {
      SPACE.lastIndex = j + 1;
      SPACE.exec(source);
      IDENT.lastIndex = SPACE.lastIndex;
      const ident = IDENT.exec(source);
      if (!ident) break;
      path.push(ident[0]);
      i = pathEnd = IDENT.lastIndex;
      continue;
    }
    if (source[j] === "[") {
      const constant = /\[\s*(?:"([^"\\]*)"|'([^'\\]*)'|(\d+))\s*\]/y;
      constant.lastIndex = j;
      const found = constant.exec(source);
      if (!found) break;
      path.push(found[1] ?? found[2] ?? found[3]);
      i = pathEnd = constant.lastIndex;
      continue;
    }
    break;
  }
  SPACE.lastIndex = i;
  SPACE.exec(source);
  const called = source[SPACE.lastIndex] === "(" && path.length > 1;
  return { path, pathEnd, end: i, called };
}

function reduce(path: string[], called: boolean): string {
  const parts = called ? path.slice(0, -1) : path;
  const depth = PATH_DEPTH[parts[0]] ?? 0;
  return parts.slice(0, depth + 1).join(".");
}

/** What one `{% ... %}` statement reads and declares. */
function scanStatement(segment: Segment): Scan {
  const inner = segment.text.slice(2, -2).replace(/^-/, "").replace(/-$/, "");
  const innerOffset = segment.start + 2 + (segment.text[2] === "-" ? 1 : 0);
  const lead = /^\s*/.exec(inner)?.[0].length ?? 0;
  IDENT.lastIndex = lead;
  const tag = IDENT.exec(inner)?.[0] ?? "";
  const restStart = lead + tag.length;
  const rest = inner.slice(restStart);
  const restOffset = innerOffset + restStart;
  switch (tag) {
    case "if":
    case "elif":
      return { refs: scanExpression(rest, restOffset), declares: [] };
    case "for": {
      const inAt = findKeyword(rest, "in");
      if (inAt < 0) return { refs: [], declares: [] };
      const targets = identifiers(rest.slice(0, inAt));
      // `{% for x in items if cond recursive %}`: the condition may read the loop variables
      return { refs: scanExpression(rest.slice(inAt + 2), restOffset + inAt + 2), declares: [...targets, "loop"] };
    }
    case "set":
    case "with": {
      const declares: string[] = [];
      const refs: NameRef[] = [];
      for (const part of splitTopLevel(rest, ",")) {
        const eq = findAssign(part.text);
        if (eq < 0) {
          declares.push(...identifiers(part.text)); // block set: `{% set x %}...{% endset %}`
          continue;
        }
        declares.push(...identifiers(part.text.slice(0, eq)));
        refs.push(...scanExpression(part.text.slice(eq + 1), restOffset + part.start + eq + 1));
      }
      return { refs, declares };
    }
    case "macro":
    case "call": {
      const open = rest.indexOf("(");
      const name = identifiers(open < 0 ? rest : rest.slice(0, open));
      const args = open < 0 ? [] : identifiers(rest.slice(open + 1).replace(/=[^,)]*/g, ""));
      return { refs: [], declares: [...name, ...args, "caller", "varargs", "kwargs"] };
    }
    case "filter":
      return { refs: [], declares: [] };
    default:
      return { refs: [], declares: [] }; // endfor, else, raw, block, ...: nothing read
  }
}

function identifiers(text: string): string[] {
  return (text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).filter((w) => !KEYWORDS.has(w));
}

function findKeyword(text: string, word: string): number {
  const re = new RegExp(`(^|\\s)${word}(\\s|$)`);
  const found = re.exec(text);
  return found ? found.index + found[1].length : -1;
}

function findAssign(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"' || text[i] === "'") {
      i = skipString(text, i) - 1;
      continue;
    }
    if (text[i] === "=" && text[i + 1] !== "=" && !"!<>=".includes(text[i - 1] ?? "")) return i;
  }
  return -1;
}

function splitTopLevel(text: string, separator: string): { text: string; start: number }[] {
  const parts: { text: string; start: number }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'") {
      i = skipString(text, i) - 1;
      continue;
    }
    if ("([{".includes(ch)) depth++;
    else if (")]}".includes(ch)) depth--;
    else if (ch === separator && depth === 0) {
      parts.push({ text: text.slice(start, i), start });
      start = i + 1;
    }
  }
  parts.push({ text: text.slice(start), start });
  return parts;
}

export interface ParsedTemplate {
  segments: Segment[];
  /** Every name read from outside the template, in order of appearance. */
  refs: NameRef[];
  /** Unclosed tags. */
  syntaxIssues: TemplateIssue[];
}

/** Split a template and find every outside name it reads (locals from for/set/with are left out). */
export function parseTemplate(text: string): ParsedTemplate {
  const { segments, issues } = splitTemplate(text);
  const declared = new Set<string>();
  const scans = segments.map((segment) => {
    if (segment.kind === "expr") {
      const inner = segment.text.slice(2, -2);
      return { refs: scanExpression(inner, segment.start + 2), declares: [] } satisfies Scan;
    }
    if (segment.kind === "stmt") return scanStatement(segment);
    return { refs: [], declares: [] } satisfies Scan;
  });
  for (const scan of scans) scan.declares.forEach((name) => declared.add(name));
  const refs: NameRef[] = [];
  const withRefs = segments.map((segment, index) => {
    const outside = scans[index].refs.filter((ref) => !declared.has(ref.name.split(".")[0]));
    refs.push(...outside);
    return { ...segment, refs: outside };
  });
  return { segments: withRefs, refs, syntaxIssues: issues };
}

/** Unique names a template reads, sorted. */
export function referencedNames(text: string): string[] {
  return [...new Set(parseTemplate(text).refs.map((r) => r.name))].sort();
}

/** Why a name is not defined for this stage, or null when it is (mirrors definition.py `_name_problem`). */
export function nameProblem(name: string, scope: TemplateScope): string | null {
  const parts = name.split(".");
  const root = parts[0];
  if (["input", "reference", "vars", "stages"].includes(root) && parts.length === 1) return null;
  if (root === "previous") {
    return scope.stageIndex >= 1 ? null : "`previous` is only defined from the second stage on";
  }
  if (root === "vars") {
    return scope.vars.includes(parts[1])
      ? null
      : `\`${name}\` is not defined: sweep \`${name}\` in the parameter space or give every sample a \`${parts[1]}\` var`;
  }
  if (root === "stages") {
    if (!scope.earlierStages.includes(parts[1])) {
      const earlier = scope.earlierStages.join(", ") || "none";
      return `\`${name}\` is not defined: only earlier stages (${earlier}) can be read`;
    }
    if (parts.length > 2 && parts[2] !== "output") return `\`${name}\` is not defined: a stage only has \`output\``;
    return null;
  }
  if ((GLOBAL_NAMES as readonly string[]).includes(root)) return null;
  return `\`${name}\` is not defined: use input, reference, vars.<name>, previous or stages.<name>.output`;
}

/** Every problem of a template in this scope: unclosed tags and undefined names (one issue per use). */
export function checkTemplate(text: string, scope: TemplateScope): TemplateIssue[] {
  const parsed = parseTemplate(text);
  const issues: TemplateIssue[] = [...parsed.syntaxIssues];
  for (const ref of parsed.refs) {
    const problem = nameProblem(ref.name, scope);
    if (problem) issues.push({ name: ref.name, message: problem, start: ref.start, end: ref.end });
  }
  return issues;
}

/** The names a stage may use, for hints next to the editor. */
export function knownNames(scope: TemplateScope): string[] {
  const names = ["input", "reference"];
  if (scope.stageIndex >= 1) names.push("previous");
  names.push(...scope.vars.map((v) => `vars.${v}`));
  names.push(...scope.earlierStages.map((s) => `stages.${s}.output`));
  return names;
}

/** Variables every sample defines (the intersection of their `vars` keys) plus swept `vars.<name>` keys. */
export function definedVars(
  samples: { vars?: Record<string, unknown> | null }[],
  parameterSpaceKeys: string[],
): string[] {
  const swept = parameterSpaceKeys.filter((k) => /^vars\.[A-Za-z_][A-Za-z0-9_]*$/.test(k)).map((k) => k.slice(5));
  const lists = samples.map((sample) => Object.keys(sample.vars ?? {}));
  const common = lists.length === 0 ? [] : lists[0].filter((key) => lists.every((keys) => keys.includes(key)));
  return [...new Set([...swept, ...common])].sort();
}
