"""The settings of ``streetlens analyze``: one dataclass the CLI, the demo and tests fill."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AnalyzeConfig:
    batch_size: int = 16
    n_concepts: int = 12
    # positions (a seeded sample) the plain NMF fits: 16,384 give the concepts of all 44,160 of a
    # 4,000-image run (matched correlation 0.998, worst 0.995) in 4 s instead of 15 s
    concept_rows: int = 16_384
    concept_fit: str = "auto"  # "sketch" (NMF on a rank-64 sketch), "full" NMF, "minibatch" stream; auto: sketch, stream beyond 100,000 positions
    # (explain/concepts/stream.py; benchmarks/bench_concepts_stream.py)
    top_patches: int = 12
    top_channels: int = 10
    featvis_channels: int = 3  # per class
    # feature visualisation, from benchmarks/bench_featvis.py on the EfficientNet-Lite0 demo
    # run (quality = activation over the unit's top-8 photos, after mild edits of the
    # picture). At 128 px: 128 steps reach 1.90, 97 % of 256 steps' 1.96, in half the
    # time; lucent's standard transforms tie a light jitter (1.91) and draw larger, more
    # coherent shapes. At 96 px: lr 0.1 nearly doubles the high-frequency noise for no gain;
    # plain pixels give grey noise (contrast 0.07-0.08 vs the photos' 0.19); no transforms give
    # adversarial patterns (quality 5.4, 2.0 once edited).
    featvis_size: int = 128
    featvis_steps: int = 128
    featvis_lr: float = 0.05  # lucent's Adam step
    featvis_precision: str = "auto"  # bf16 where it is native and faster (see nets/precision.py)
    featvis_param: str = "fft"  # image parameterisation: "fft" (+ decorrelated colours) or "pixel"
    featvis_transforms: str = "standard"  # robustness transforms: "standard" (lucent's), "jitter", "none"
    umap_neighbors: int = 15
    # UMAP beyond umap_fit_max images: fitted on a seeded sample, the rest placed (explain/embedding.py).
    # At 20,000 images a 5,000-image fit takes 4.1 s instead of 12.7 s; trustworthiness (10
    # neighbours, 3,000 images) 0.937 vs 0.953. 200 epochs (umap's default beyond 10,000 points,
    # 500 below): 1.5 s instead of 3.6 s at 4,000 images.
    umap_fit_max: int = 5_000
    umap_epochs: int = 200
    knn: int = 8
    seed: int = 0
    stages: tuple[str, ...] | None = None  # None: every stage that runs by default
    redo: tuple[str, ...] = ()  # stages to compute again even when cached (and what reads them)
    # reliability (opt-in stage; see precompute/stages/reliability.py for the costs)
    reliability_images: int = 8  # correctly classified test images, one class in turn
    reliability_ig_images: int = 4  # of those, for integrated gradients (and occlusion)
    reliability_ig_steps: int = 8
    reliability_steps: int = 20  # deletion/insertion steps
    reliability_random_orders: int = 3
    reliability_baseline: str = "blur"  # or "mean"
    reliability_loc_images: int = 30  # test images for pointing game (Grad-CAM: all)
    reliability_tolerance: int = 15  # pointing-game tolerance, px at 224 px
    reliability_methods: str = ""  # comma-separated; "" = the dashboard's five
    reliability_modes: str = "cascade,independent"
    device: str = "auto"
    # where the per-image stage runs (analysis/precompute/engines): "local" or "ray"
    engine: str = "local"
    address: str | None = None  # Ray: None = a local cluster on 127.0.0.1; "auto"; HOST:PORT
    ray_actors: int = 0  # Ray: model actors (0: one per GPU, else one per two CPUs)
    shard_rows: int = 256  # images per shard of a new cache: the unit of writing and recomputing
    verify: bool = False  # check every shard's CRC before trusting a cached stage (sizes: always)
    extra: dict = field(default_factory=dict)
    """Parameters of stages that have no field here (a new stage's, by name)."""

    def value(self, name: str, default=None):
        """A parameter by name: a field, else ``extra``, else ``default``."""
        if name in self.__dataclass_fields__ and name != "extra":
            return getattr(self, name)
        return self.extra.get(name, default)
