/** What a chart drew, read back from its elements' geometry through the value scale: the canvas's `data-drawn` (charts.mts writes it after each draw). */
export interface DrawnValues {
  labels: string[];
  datasets: { label: string; values: (number | null)[] }[];
  /** Value units per pixel of the first dataset's value axis (a linear one): how finely a drawn value can be read back. */
  perPixel: number | null;
}
