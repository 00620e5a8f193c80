// Starting configs that are useful as they are, merged over the schema's empty one when a scorer is added.

/** The LLM judge's default prompt: a rubric, the three names it can read, and an answer form it parses. */
export const DEFAULT_JUDGE_PROMPT = `You are grading an AI assistant's answer.

Question or task:
{{ input }}
{% if reference %}
A correct reference answer:
{{ reference }}
{% endif %}
The assistant's answer:
{{ output }}

Judge correctness first (against the reference when there is one), then completeness and clarity.
Ignore length unless it hurts clarity. Reply with only the score, as x/10 (for example 7/10).`;

export const SCORER_STARTERS: Record<string, Record<string, unknown>> = {
  llm_judge: {
    prompt: DEFAULT_JUDGE_PROMPT,
    system_prompt: "You are a strict, consistent grader. Answer with the score only.",
    params: { temperature: 0, max_tokens: 10 },
  },
};

export function starterConfig(scorerId: string, fromSchema: Record<string, unknown>): Record<string, unknown> {
  return { ...fromSchema, ...(SCORER_STARTERS[scorerId] ?? {}) };
}
