"""The member assembly: proposals on outlets, votes (secret by default), committees by lot."""
