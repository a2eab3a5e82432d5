/** Natural order of Kaggle image ids: "1_2" < "1_10" < "2_1", "7" < "12" (digit runs compared as numbers). */
const collator = new Intl.Collator("en", { numeric: true });

export function compareIds(a: string, b: string): number {
  return collator.compare(a, b);
}
