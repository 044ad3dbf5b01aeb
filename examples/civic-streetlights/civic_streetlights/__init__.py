"""civic-streetlights: a register of streetlight poles and the nearest pole on streetlight cases."""
