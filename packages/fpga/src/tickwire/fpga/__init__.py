"""tickwire-fpga: the threshold strategy as an Amaranth HDL design, simulated cycle by cycle.

See ``docs/fpga.md``. Modules: :mod:`.core` (the design), :mod:`.regs` (the register map),
:mod:`.control` (the control plane over the register bus), :mod:`.sim` (the simulation
driver), :mod:`.backend` (the ``fpga`` backend), :mod:`.recip` (division by ``tick``),
:mod:`.verilog` (the Verilog export).
"""
