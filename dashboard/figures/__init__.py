"""Pure figure functions shared by the dashboard pages and export: data in, figure out.

No Streamlit calls in here, so the same pictures can be written to PNG / SVG / PDF.

``images``  numpy / PIL pictures: a map laid over a photo (``overlay``, ``gradcam_overlay``,
            ``contrastive_overlay``, ``signed_overlay``, ``groups_overlay``), a plain colour
            mapping (``colorize``), grids and thumbnail strips (``image_grid``,
            ``thumbnail_strip``), placeholder icons and colour bars.
``charts``  plotly figures: prediction bars (``prediction_bars``), confusion matrices
            (``confusion_matrix``), training curves (``training_curves``), attribution bars
            with icons (``attribution_bars``), and the runs comparison table's styling
            (``style_comparison``).

Function names and signatures here are a contract with the other pages and export:
add parameters with defaults, do not rename. Import the submodules you need
(``from dashboard.figures import images, charts``); this package imports nothing itself so
that a page using only images does not pay for plotly.
"""
