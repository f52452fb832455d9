"""Real-world series bundled offline with statsmodels (the optional ``data`` extra).

=============  ===============================================================  ======  ======
name           what                                                             points  season
=============  ===============================================================  ======  ======
``sunspots``   yearly mean sunspot number, 1700-2008 (``statsmodels.datasets``)    309      11
``co2``        Mauna Loa CO2, weekly 1958-2001 averaged to months, gaps filled     526      12
               by linear interpolation (``statsmodels.datasets.co2``)
=============  ===============================================================  ======  ======

statsmodels is imported only when a series is loaded; without it, ``load`` raises
``MissingExtraError`` naming the install command. Normalise with ``jaxrnn.data.sine.normalise``
on the training part only.
"""
from __future__ import annotations

import numpy as np

REAL = {"sunspots": 11, "co2": 12}  # name -> season (steps per cycle) for the seasonal-naive


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is missing. A ValueError too, so the CLI prints one line."""


def _statsmodels_datasets():
    try:
        import statsmodels.datasets as datasets
    except ImportError as e:
        raise MissingExtraError(
            f"the real-world series need statsmodels ({e}); install it with "
            f'pip install "jaxrnn[data]"') from None
    return datasets


def load(name: str) -> np.ndarray:
    """The series called ``name`` as float64 (n, 1) (module table)."""
    if name not in REAL:
        raise ValueError(f"unknown real series {name!r}; expected one of {', '.join(REAL)}")
    datasets = _statsmodels_datasets()
    if name == "sunspots":
        values = datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)
    else:
        weekly = datasets.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean().interpolate("linear")
        values = monthly.to_numpy(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"series {name!r} has missing values after loading")
    return values[:, None]


def season(name: str) -> int:
    """Steps per cycle of the series (11 years of sunspots, 12 months of CO2)."""
    if name not in REAL:
        raise ValueError(f"unknown real series {name!r}; expected one of {', '.join(REAL)}")
    return REAL[name]
