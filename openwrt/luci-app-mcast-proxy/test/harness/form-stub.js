/* form stand-in: see below */
