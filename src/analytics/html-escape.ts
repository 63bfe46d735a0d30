/**
 * HTML escaping for text and attribute values. The report embeds user data (country and poster
 * names), so nothing reaches the page unescaped; quotes are escaped too, so the same function is
 * safe inside attribute values.
 */

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}
