"""KPIs, rollup reads, the trial and in-flight reports and the project wrap-up, as typed models."""
