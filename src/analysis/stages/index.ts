/**
 * The optional stages of an analysis, registered in the order they run: the cheap
 * visualisation first, then substitution, reliability and Shapley (the most expensive last, so
 * that a cancel during it keeps the others).
 */
import './visualizationStage';
import './substitutionStage';
import './reliabilityStage';
import './shapleyStage';
