"""Feature families: each module declares its features (`features`) next to the code computing them
(`compute`), names what it reads (`READS`), and is registered in `features.catalogue.FAMILIES`."""
