"""Planning: what one operation asks of each port.

The root fields and their arguments (:mod:`~gateway.planning.rootfields`), the shape of a
selection (:mod:`~gateway.planning.selection`), and the plan: which ports answer each root
field and the one document each is sent, with the field policy applied port by port
(:mod:`~gateway.planning.plan`). The ports' side reads the plan to know what it asked.

May import: :mod:`gateway.access` (the policy), :mod:`gateway.record`, and the shared ground.
Never the ports, the query, the edge or the command line.
"""
