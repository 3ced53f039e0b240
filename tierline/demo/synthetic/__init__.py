"""Seeded synthetic master data and two years of order history for demos, tests and benchmarks.

``generate(scale, seed, as_of)`` returns one polars frame per importable entity, with columns
named exactly like the generic-CSV import attributes, so ``write_csv`` output loads through the
ordinary import path. The same scale, seed and ``as_of`` always give the same data.

What makes the data worth segmenting:

* customers form a hierarchy (global account -> parent -> sold-to -> ship-to); orders come from
  sold-tos and ship-tos with Pareto-shaped volumes, and CRM tiers follow volume only loosely
  (tiers in real CRMs lag behind reality);
* every product follows one demand pattern (smooth, erratic, intermittent, seasonal, lumpy) on
  top of its lifecycle: launch ramp, phase-out decline, one-off projects, promotion spikes;
* service is worse for lower tiers (more late and short deliveries); margins shrink with
  discounts and turn negative on clearance;
* other source systems hold the same customers with messy names, reformatted identifiers, true
  duplicates and ambiguous near-matches, for golden-record demos. ``truth`` says which is which.

Everything is vectorised: numpy draws arrays of indices and values, polars turns them into
strings and frames. Loops run only over small fixed vocabularies (levels, regions, countries,
units, promotion rounds), never over rows, products or customers. Each part draws from its own
random stream, so changing how one part is generated leaves the others as they were.

One module per part: ``scales`` (row counts, calendar, random streams), ``reference``
(vocabularies and reference tables), ``draws`` (vectorised helpers), ``customers``, ``sources``
(the same customers in other systems), ``products``, ``network`` (locations and suppliers),
``demand`` and ``orders`` (the order history), ``positions`` (inventory, lead times, cost to
serve), ``supply`` (sourcing lanes, transfer lead times, open supply, forecasts, promotions
and the ERP's planning parameters), ``dataset`` (what is returned), ``generator``
(``generate``) and ``writing`` (``write_csv``).
"""

from tierline.demo.synthetic.dataset import GroundTruth, SyntheticDataset
from tierline.demo.synthetic.generator import generate
from tierline.demo.synthetic.scales import SCALES, WEEKS, Scale
from tierline.demo.synthetic.writing import write_csv

__all__ = [
    "SCALES",
    "WEEKS",
    "GroundTruth",
    "Scale",
    "SyntheticDataset",
    "generate",
    "write_csv",
]
