"""Concepts of a whole dataset: NMF directions in the target layer's channel space
(``factorize``), their importance per class (``importance``), and what makes them
trustworthy and readable: their causal effect (``effect``), their stability across refits
(``stability``), the concepts that separate confused classes (``contrast``), their names
(``naming``) and each class's portrait (``portrait``)."""
