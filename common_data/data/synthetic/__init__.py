"""The embedded default dataset `synthetic`: thermal false-colour face frames made from a seed.

A fresh clone has no real data, yet every command must run and every pitfall of the real set
must be demonstrable. So the generator imitates the real set's structure, not just its pixels:
the same folder layout and folder names (the `surpise` typo included), the same five capture
days with the same day<->emotion confound, bursts of near-duplicate frames, a burned-in HUD
whose printed date predicts the label, and emotion cues on the face that are real but subtle.
A benchmark that is fooled by the real set is fooled by this one in the same way.

Output is a pure function of (GENERATOR_VERSION, seed, scale, hud): each burst draws from its
own keyed random stream and PNGs are encoded with fixed parameters, so the bytes are identical
under Python 3.11 and 3.13 with the pinned NumPy/OpenCV.

The parts, in the order a frame is made: `scenario` (days, palettes, the burst plan), `faces`
(a burst's temperature field), `camera` (jitter, auto range, false colour, HUD), `build`
(files, manifest, cache). A test that retunes a constant patches the module that defines it.
"""

from common_data.data.synthetic.build import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    ensure_synthetic,
    generate,
    is_intact,
    read_manifest,
)
from common_data.data.synthetic.scenario import DEFAULT_SEED

__all__ = ["DEFAULT_SEED", "GENERATOR_VERSION", "MANIFEST_NAME",
           "ensure_synthetic", "generate", "is_intact", "read_manifest"]
