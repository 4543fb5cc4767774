"""What is trained and how: one file per algorithm, plus losses, augmentation and the latent prior."""
