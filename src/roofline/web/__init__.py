"""The web calculator (`roofline web`): a FastAPI app with the JSON API and one offline page.

`create_app()` lives in `roofline.web.app`; importing this package does not import FastAPI.
"""
