FROM busybox-python
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry lock && poetry install --no-root
COPY app ./app
RUN rm -rf /root/.cache/virtualenv
CMD ["python", "app/main.py"]
