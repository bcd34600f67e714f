import type { WorkbookDataset } from '../dataset.js';
import { monthlyDeaths } from './monthly-deaths.js';

/** Declared ONS workbook datasets, one line each. The first is the default. */
export const onsDatasets: readonly WorkbookDataset[] = [monthlyDeaths];
