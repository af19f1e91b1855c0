// Turning the Settings form's text fields into lists and back: pure, tested with vitest.

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
