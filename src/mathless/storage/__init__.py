"""Model and run folders on disk: plain JSON and safetensors, never pickle."""
