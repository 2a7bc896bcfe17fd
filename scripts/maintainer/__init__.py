"""The maintainer's commands: the platform proofs (platforms/), the benchmarks (benchmarks/), the
shipped model (train_shipped_model), the figures (make_images) and the game flown by key presses
on a virtual screen (play_under_xvfb)."""
