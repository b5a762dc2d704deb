"""Shortcuts: what lets a model name the city without looking at the street.

Three kinds of evidence, each a module that returns plain tables, and ``flags`` turning
them into statements a user can check with one click:

* ``frame``       evidence fixed in the frame — a class's Grad-CAM peaks, or a concept that
                  raises it, concentrated in one border strip or corner (a watermark, a logo)
* ``properties``  the class predictable from what is not the picture's content (size,
                  aspect, file size, JPEG quality, EXIF, letterbox), cross-validated against
                  chance
* ``duplicates``  near-duplicate photos on both sides of the train/test split
"""
