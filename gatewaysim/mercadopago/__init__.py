"""The simulated Mercado Pago Payments API, under `/mercadopago`."""
