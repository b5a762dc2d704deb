"""The Sample page's blocks (the page itself: ``dashboard/app_pages/sample.py``):

``picker``      filters and the image picker (all kept in the URL)
``maps``        the target being explained, the prediction, Grad-CAM and on-demand maps
``blocks``      building blocks for the target: channels, neuron groups, concepts
``neighbours``  the nearest training images
``pictures``    photos, thumbnails and icons at display size (cached)
"""
