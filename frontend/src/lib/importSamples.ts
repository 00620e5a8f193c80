/**
 * Samples from pasted text or an imported file: CSV/TSV with a header row (input, reference, id,
 * other columns become vars), JSONL (one object per line), a JSON array, or plain lines.
 */

export interface SampleInput {
  id: string;
  input: string;
  reference?: string | null;
  vars?: Record<string, unknown>;
}

export interface ImportResult {
  samples: SampleInput[];
  /** Problems that stopped some rows from being read (with their line numbers). */
  errors: string[];
  /** Things the user may want to know (ids renamed, empty rows skipped). */
  warnings: string[];
}

export type ImportFormat = "csv" | "tsv" | "jsonl" | "json" | "lines";

/** RFC 4180 CSV: quoted fields may hold the delimiter, doubled quotes and line breaks; CRLF or LF. */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // drop a BOM
  while (i < source.length) {
    const ch = source[i];
    if (quoted) {
      if (ch === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === delimiter) {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\r" || ch === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += ch === "\r" && source[i + 1] === "\n" ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** The delimiter of a CSV-like text, guessed from its header line (comma, tab or semicolon). */
export function guessDelimiter(text: string): string {
  const header = text.split(/\r?\n/, 1)[0] ?? "";
  const counts = [",", "\t", ";"].map((d) => [d, countOutsideQuotes(header, d)] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ",";
}

function countOutsideQuotes(line: string, delimiter: string): number {
  let quoted = false;
  let count = 0;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === delimiter && !quoted) count++;
  }
  return count;
}

const FIELDS = ["id", "input", "reference"] as const;

/** Samples from a CSV text whose first row names the columns. */
export function samplesFromCsv(text: string, delimiter = guessDelimiter(text), taken: Iterable<string> = []): ImportResult {
  const rows = parseCsv(text, delimiter);
  const result: ImportResult = { samples: [], errors: [], warnings: [] };
  if (rows.length === 0) {
    result.errors.push("The file is empty.");
    return result;
  }
  const header = rows[0].map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const column = Object.fromEntries(FIELDS.map((f) => [f, lower.indexOf(f)])) as Record<(typeof FIELDS)[number], number>;
  if (column.input < 0) {
    result.errors.push(
      `The header row needs an \`input\` column; it has: ${header.map((h) => `\`${h}\``).join(", ") || "nothing"}.`,
    );
    return result;
  }
  const varColumns = header
    .map((name, index) => ({ name, index }))
    .filter(({ name, index }) => name !== "" && !Object.values(column).includes(index));
  const raw: SampleInput[] = [];
  rows.slice(1).forEach((cells, r) => {
    const line = r + 2;
    if (cells.every((c) => c.trim() === "")) return;
    if (cells.length > header.length && cells.slice(header.length).some((c) => c.trim() !== "")) {
      result.warnings.push(`Row ${line} has ${cells.length} cells but the header has ${header.length}; extra cells ignored.`);
    }
    const sample: SampleInput = { id: column.id >= 0 ? (cells[column.id] ?? "").trim() : "", input: cells[column.input] ?? "" };
    if (column.reference >= 0 && (cells[column.reference] ?? "") !== "") sample.reference = cells[column.reference];
    const vars: Record<string, unknown> = {};
    for (const { name, index } of varColumns) vars[name] = cells[index] ?? "";
    if (Object.keys(vars).length > 0) sample.vars = vars;
    raw.push(sample);
  });
  result.samples = assignIds(raw, result.warnings, taken);
  return result;
}

/** A JSON value as a sample: an object with `input` (other keys than id/reference/vars become vars) or a string. */
function sampleFromValue(value: unknown, where: string, errors: string[]): SampleInput | null {
  if (typeof value === "string") return { id: "", input: value };
  if (typeof value === "number" || typeof value === "boolean") return { id: "", input: String(value) };
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    errors.push(`${where}: expected an object with an \`input\` or a string.`);
    return null;
  }
  const record = value as Record<string, unknown>;
  if (!("input" in record)) {
    errors.push(`${where}: the object has no \`input\` key (keys: ${Object.keys(record).join(", ") || "none"}).`);
    return null;
  }
  const sample: SampleInput = {
    id: record.id === undefined || record.id === null ? "" : String(record.id),
    input: typeof record.input === "string" ? record.input : JSON.stringify(record.input),
  };
  if (record.reference !== undefined && record.reference !== null) {
    sample.reference = typeof record.reference === "string" ? record.reference : JSON.stringify(record.reference);
  }
  const vars: Record<string, unknown> = {};
  if (record.vars && typeof record.vars === "object" && !Array.isArray(record.vars)) {
    Object.assign(vars, record.vars);
  }
  for (const [key, item] of Object.entries(record)) {
    if (!["id", "input", "reference", "vars"].includes(key)) vars[key] = item;
  }
  if (Object.keys(vars).length > 0) sample.vars = vars;
  return sample;
}

/** Samples from JSON Lines: one object (or string) per non-empty line. */
export function samplesFromJsonl(text: string, taken: Iterable<string> = []): ImportResult {
  const result: ImportResult = { samples: [], errors: [], warnings: [] };
  const raw: SampleInput[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      result.errors.push(`Line ${index + 1} is not valid JSON: ${(error as Error).message}`);
      return;
    }
    const sample = sampleFromValue(value, `Line ${index + 1}`, result.errors);
    if (sample) raw.push(sample);
  });
  result.samples = assignIds(raw, result.warnings, taken);
  return result;
}

/** Samples from a JSON array (or an object with a `sample_data`/`samples` array). */
export function samplesFromJson(text: string, taken: Iterable<string> = []): ImportResult {
  const result: ImportResult = { samples: [], errors: [], warnings: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    result.errors.push(`Not valid JSON: ${(error as Error).message}`);
    return result;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    value = record.sample_data ?? record.samples ?? [value];
  }
  if (!Array.isArray(value)) {
    result.errors.push("Expected a JSON array of samples.");
    return result;
  }
  const raw: SampleInput[] = [];
  value.forEach((item, index) => {
    const sample = sampleFromValue(item, `Item ${index + 1}`, result.errors);
    if (sample) raw.push(sample);
  });
  result.samples = assignIds(raw, result.warnings, taken);
  return result;
}

/** One sample per non-empty line. */
export function samplesFromLines(text: string, taken: Iterable<string> = []): ImportResult {
  const warnings: string[] = [];
  const raw = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .map((line) => ({ id: "", input: line }));
  return { samples: assignIds(raw, warnings, taken), errors: [], warnings };
}

/** What pasted text most likely is: a JSON array, JSON Lines (every line an object), or plain lines. */
export function detectFormat(text: string, fileName?: string): ImportFormat {
  const extension = fileName?.toLowerCase().split(".").pop();
  if (extension === "csv") return "csv";
  if (extension === "tsv") return "tsv";
  if (extension === "jsonl" || extension === "ndjson") return "jsonl";
  if (extension === "json") return "json";
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      if (Array.isArray(JSON.parse(trimmed))) return "json";
    } catch {
      /* not JSON: fall through */
    }
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length > 0 && lines.every((l) => l.trim().startsWith("{") && l.trim().endsWith("}"))) return "jsonl";
  return "lines";
}

/** Read samples in the given (or detected) format; new ids avoid the `taken` ones. */
export function importSamples(
  text: string,
  options: { fileName?: string; format?: ImportFormat; taken?: Iterable<string> } = {},
): ImportResult {
  const format = options.format ?? detectFormat(text, options.fileName);
  const taken = [...(options.taken ?? [])];
  switch (format) {
    case "csv":
      return samplesFromCsv(text, guessDelimiter(text), taken);
    case "tsv":
      return samplesFromCsv(text, "\t", taken);
    case "jsonl":
      return samplesFromJsonl(text, taken);
    case "json":
      return samplesFromJson(text, taken);
    default:
      return samplesFromLines(text, taken);
  }
}

/** Give every sample a unique id: keep given ones, number the rest `s1`, `s2`, ... */
export function assignIds(samples: SampleInput[], warnings: string[], taken: Iterable<string> = []): SampleInput[] {
  const used = new Set<string>(taken);
  const reserved = new Set(samples.map((s) => s.id.trim()).filter((id) => id !== ""));
  const out: SampleInput[] = [];
  let counter = 1;
  const next = () => {
    while (used.has(`s${counter}`) || reserved.has(`s${counter}`)) counter++;
    return `s${counter}`;
  };
  for (const sample of samples) {
    let id = sample.id.trim();
    if (id !== "" && used.has(id)) {
      const renamed = next();
      warnings.push(`Sample id \`${id}\` appears more than once; a later one was renamed \`${renamed}\`.`);
      id = renamed;
    }
    if (id === "") id = next();
    used.add(id);
    out.push({ ...sample, id });
  }
  return out;
}
