import streamlit as st
st.title("streetlens")
