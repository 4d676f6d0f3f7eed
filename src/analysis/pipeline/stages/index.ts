/**
 * The optional stages of an analysis, in the order they run: the cheap visualisation first, then
 * substitution, reliability and Shapley (the most expensive last, so that a cancel during it
 * keeps the others).
 */
import { reliabilityStage } from './reliabilityStage';
import { shapleyStage } from './shapleyStage';
import { substitutionStage } from './substitutionStage';
import type { AnalysisStage } from './types';
import { visualizationStage } from './visualizationStage';

export const STAGES: readonly AnalysisStage[] = [visualizationStage, substitutionStage, reliabilityStage, shapleyStage];
