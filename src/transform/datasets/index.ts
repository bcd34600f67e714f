import type { WorkbookDataset } from '../layout/dataset.js';
import { monthlyDeaths } from './monthly-deaths.js';
import { weeklyDeaths } from './weekly-deaths.js';

/** Declared ONS workbook datasets, one line each. The first is the default. */
export const onsDatasets: readonly WorkbookDataset[] = [monthlyDeaths, weeklyDeaths];
