// Turning form fields into setting values and back: pure, tested with vitest.

/** Items of a comma- or newline-separated field, trimmed, without empties or repeats. */
export function splitList(text: string): string[] {
  const items = text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== "");
  return [...new Set(items)];
}

export function joinList(items: string[], separator = ", "): string {
  return items.join(separator);
}

/** An optional field's value: trimmed, and empty for none. */
export function optionalText(text: string): string | null {
  const trimmed = text.trim();
  return trimmed === "" ? null : trimmed;
}
