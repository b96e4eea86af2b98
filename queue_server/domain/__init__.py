"""Pure queue rules: states, numbering, ordering, calling, estimates. Standard library only."""
