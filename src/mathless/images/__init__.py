"""Images: a folder with one sub-folder per class (or a table of image paths) to a trained model.

- ``read``: finding and reading image files, broken ones skipped and listed.
- ``prepare``: scaling and the random changes (augmentation) used while training.
- ``fit``: choosing the network (transfer learning or from scratch) and training it.
- ``model``: ``ImageModel`` — predict, evaluate, save, load.
"""
