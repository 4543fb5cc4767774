"""Screens: the shared monitor layout, its train and view variants, and small modals."""
