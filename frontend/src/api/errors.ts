// One error type for every API failure, carrying a sentence a person can act on.

export interface FieldProblem {
  loc?: (string | number)[];
  msg?: string;
  type?: string;
}

const STATUS_SENTENCES: Record<number, string> = {
  400: "The server could not accept that request.",
  401: "Your session has ended: log in again.",
  403: "You are signed in read-only: ask an admin for an account to make changes.",
  404: "That item does not exist (it may have been deleted).",
  409: "That conflicts with the current state: refresh and try again.",
  413: "That is too large for the server to accept.",
  422: "Some fields are not valid.",
  429: "Too many attempts: wait a minute and try again.",
  500: "The server hit an internal error: check its log.",
  502: "The server is unreachable behind its proxy.",
  503: "A part of the server is down: check /health.",
  504: "The server took too long to answer.",
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: unknown;
  readonly fields: FieldProblem[];

  constructor(status: number, code: string, message: string, detail: unknown = null, fields: FieldProblem[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.fields = fields;
  }

  /** Build the error from a response status and its (JSON or text) body. */
  static from(status: number, body: unknown): ApiError {
    let parsed = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = body.trim() ? { detail: body.trim() } : {};
      }
    }
    const record = (parsed && typeof parsed === "object" ? parsed : {}) as { detail?: unknown; code?: unknown };
    const code = typeof record.code === "string" ? record.code : status === 422 ? "validation_error" : `http_${status}`;
    const detail = record.detail;
    if (Array.isArray(detail)) {
      const fields = detail.filter((d): d is FieldProblem => !!d && typeof d === "object");
      return new ApiError(status, code, describeFieldProblems(fields), detail, fields);
    }
    if (typeof detail === "string" && detail.trim()) {
      return new ApiError(status, code, ensureSentence(detail.trim()), detail);
    }
    return new ApiError(status, code, STATUS_SENTENCES[status] ?? `The server answered ${status}.`, detail ?? null);
  }
}

function ensureSentence(text: string): string {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?:)]$/.test(capital) ? capital : `${capital}.`;
}

/** `["body", "pipeline_stages", 0, "model"]` → `pipeline_stages 1 › model` (1-based for people). */
export function fieldPath(loc: (string | number)[] | undefined): string {
  const parts = (loc ?? []).filter((p, i) => !(i === 0 && (p === "body" || p === "query" || p === "path")));
  return parts.map((p) => (typeof p === "number" ? `#${p + 1}` : p)).join(" › ");
}

export function describeFieldProblems(fields: FieldProblem[]): string {
  if (fields.length === 0) return STATUS_SENTENCES[422]!;
  if (fields.every((f) => f.loc?.[0] === "path")) {
    const names = Array.from(new Set(fields.map((f) => fieldPath(f.loc)))).join(", ");
    return `This address is not valid: the ${names} in it is not a known id.`;
  }
  const parts = fields.slice(0, 4).map((f) => {
    const where = fieldPath(f.loc);
    const msg = (f.msg ?? "is not valid").replace(/^Value error, /, "");
    return where ? `${where}: ${lowerFirst(msg)}` : msg;
  });
  const more = fields.length > 4 ? ` (and ${fields.length - 4} more)` : "";
  return `Please fix ${fields.length === 1 ? "this field" : "these fields"}: ${parts.join("; ")}${more}.`;
}

function lowerFirst(text: string): string {
  return text.length > 1 && text[1] !== text[1]!.toUpperCase() ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

/** A readable sentence for anything thrown while talking to the API. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "Cannot reach the PromptLooper server: check that it is running and try again.";
  if (error instanceof Error && error.message) return ensureSentence(error.message);
  if (typeof error === "string" && error) return ensureSentence(error);
  return "Something went wrong.";
}

export function isApiError(error: unknown, status?: number): error is ApiError {
  return error instanceof ApiError && (status === undefined || error.status === status);
}
