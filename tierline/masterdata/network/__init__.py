"""The supply network and what flows through it: sourcing lanes, open supply, demand
forecasts, promotions and the ERP's current planning parameters (loaded like master data)."""
