"""Sales forecasting family: LightGBM global model, Prophet per series, baselines, ensemble, intervals."""
