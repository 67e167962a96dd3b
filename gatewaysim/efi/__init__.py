"""The simulated Efí (Gerencianet) Pix API, under `/efi`."""
